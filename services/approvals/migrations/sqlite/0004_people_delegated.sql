-- Whether a person's last web sign-in was delegated (its token had an `act` or `may_act`
-- claim): a chat decision matched to such a person is refused, as the web page refuses it
-- (sqlite). Rows written before this column existed are marked delegated until the person signs
-- in again: unknown is not "acting for themselves".
ALTER TABLE people ADD COLUMN delegated BIGINT NOT NULL DEFAULT 1;

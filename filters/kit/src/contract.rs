//! What stages of one chain promise each other, checked once when the chain is compiled so
//! that a configuration whose stages disagree is refused with the field named, instead of
//! failing per request.

use crate::{ConfigError, Stage};
use std::rc::Rc;

/// A stage's side of the cross-stage checks. Default: asks and offers nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contract {
    /// The longest approval hold this stage's decisions may ask for, and the field (relative
    /// to the stage's configuration) that asks for it.
    pub longest_hold: Option<(u64, String)>,
    /// The longest hold this stage will perform (an approval stage's `max_hold_timeout_ms`),
    /// and its field.
    pub hold_ceiling: Option<(u64, String)>,
}

/// Checks the contracts of `stages` (in chain order, each with the configuration field it
/// was compiled from, e.g. `stages[2].config`): every hold a stage may ask for must fit the
/// ceiling of the first approval stage after it. Error: the asking field, with both values.
pub fn check(stages: &[(String, Rc<dyn Stage>)]) -> Result<(), ConfigError> {
    for (i, (field, stage)) in stages.iter().enumerate() {
        let Some((longest, asking)) = stage.contract().longest_hold else { continue };
        let ceiling = stages[i + 1..]
            .iter()
            .find_map(|(later_field, later)| later.contract().hold_ceiling.map(|c| (c, later_field)));
        if let Some(((ceiling, ceiling_field), later_field)) = ceiling {
            if longest > ceiling {
                return Err(ConfigError::new(
                    format!("{field}.{asking}"),
                    format!(
                        "holds up to {longest} ms, over the approval stage's {later_field}.{ceiling_field} ({ceiling} ms): lower it, or raise the ceiling together with the route's idle timeout"
                    ),
                ));
            }
        }
    }
    Ok(())
}

//! How a stage is built from its plugin configuration, registered once per stage and used by
//! its own module (`warden_<stage>.wasm`), by the suite (`warden.wasm`) and by native tools.

use crate::{Chain, ConfigError, Stage};
use serde::de::DeserializeOwned;
use std::rc::Rc;

/// A stage type that can be compiled from configuration.
pub trait StageKind: Stage + Sized + 'static {
    /// The name in the suite's `stages` list (e.g. `guard`); the same as [`Stage::name`].
    const NAME: &'static str;
    /// The configuration as users write it (JSON; unknown fields are refused).
    type Config: DeserializeOwned;
    /// Validates and compiles the configuration once; the error names the field.
    fn compile(config: Self::Config) -> Result<Self, ConfigError>;
}

/// Compiles raw JSON configuration into a stage, or names the wrong field.
type CompileStage = fn(&[u8]) -> Result<Rc<dyn Stage>, ConfigError>;

/// A registered stage: its name and how to compile it from raw plugin configuration. Each
/// stage crate exports one (`warden_guard::STAGE`); the suite lists them.
#[derive(Clone, Copy)]
pub struct StageFactory {
    name: &'static str,
    compile: CompileStage,
}

impl std::fmt::Debug for StageFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StageFactory({})", self.name)
    }
}

fn compile_erased<S: StageKind>(raw: &[u8]) -> Result<Rc<dyn Stage>, ConfigError> {
    let config: S::Config = crate::config::parse(raw)?;
    Ok(Rc::new(S::compile(config)?))
}

impl StageFactory {
    /// The factory of stage type `S`.
    pub const fn of<S: StageKind>() -> StageFactory {
        StageFactory { name: S::NAME, compile: compile_erased::<S> }
    }

    /// The stage's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Parses and compiles raw JSON configuration (empty means `{}`); errors name the field.
    pub fn compile(&self, raw: &[u8]) -> Result<Rc<dyn Stage>, ConfigError> {
        (self.compile)(raw)
    }

    /// The stage as its own filter: a one-stage chain that reads the facts it needs from
    /// filter state (written by the Warden filters before it).
    pub fn standalone(&self, raw: &[u8]) -> Result<Chain, ConfigError> {
        Ok(Chain::new(vec![self.compile(raw)?]).importing_facts())
    }
}

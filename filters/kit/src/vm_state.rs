//! A stage's mutable state for one VM: the only place runtime state lives beside the
//! immutable compiled configuration.

use std::any::Any;

/// Per-VM, per-stage mutable state: caches and things fetched at run time (for example the
/// identity stage's verified-token cache and fetched key sets). A stage creates it with
/// [`crate::Stage::vm_state`] when a chain is built (once per VM: Envoy builds one chain per
/// worker's VM in `on_configure`); every request of that VM and its background work then see
/// the same value through `Cx::vm` and the `on_tick` arguments. A wasm VM is single-threaded,
/// so no locking is needed; nothing here is exported. Holds one value of any type, or none
/// (the default, for stages without runtime state).
#[derive(Default)]
pub struct VmState(Option<Box<dyn Any>>);

impl std::fmt::Debug for VmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "VmState(set)" } else { "VmState(none)" })
    }
}

impl VmState {
    /// State holding `value`.
    pub fn new<T: 'static>(value: T) -> Self {
        VmState(Some(Box::new(value)))
    }

    /// The value, if it is a `T` (`None` for another type or no state).
    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.0.as_mut()?.downcast_mut::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::VmState;

    #[test]
    fn holds_the_value_it_was_made_with() {
        let mut state = VmState::new(vec![1u8]);
        assert!(state.get_mut::<String>().is_none());
        state.get_mut::<Vec<u8>>().unwrap().push(2);
        assert_eq!(state.get_mut::<Vec<u8>>().unwrap(), &[1, 2]);
        assert!(VmState::default().get_mut::<Vec<u8>>().is_none());
    }
}

//! A stage's working state for one request, kept between its callbacks.

use std::any::Any;

/// Per-request, per-stage working state (for example the unfinished line of a streamed body).
/// The chain keeps one for each stage of each request, in memory only: it is empty at request
/// start, dropped with the request and never exported to filter state, so it may hold what
/// facts must not (unmasked text). Holds one value of any type.
#[derive(Default)]
pub struct Scratch(Option<Box<dyn Any>>);

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Scratch(set)" } else { "Scratch(empty)" })
    }
}

impl Scratch {
    /// Takes the value out if it is a `T` (`None` when empty or of another type, which is
    /// then left in place).
    pub fn take<T: 'static>(&mut self) -> Option<T> {
        match self.0.take()?.downcast::<T>() {
            Ok(value) => Some(*value),
            Err(other) => {
                self.0 = Some(other);
                None
            }
        }
    }

    /// Stores `value`, replacing what was there.
    pub fn set<T: 'static>(&mut self, value: T) {
        self.0 = Some(Box::new(value));
    }

    /// The value, if it is a `T`.
    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.0.as_mut()?.downcast_mut::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::Scratch;

    #[test]
    fn holds_one_value_of_the_asked_type() {
        let mut scratch = Scratch::default();
        assert_eq!(scratch.take::<u32>(), None);
        scratch.set(7u32);
        assert_eq!(scratch.take::<String>(), None, "another type is not taken");
        assert_eq!(scratch.get_mut::<u32>().copied(), Some(7));
        assert_eq!(scratch.take::<u32>(), Some(7));
        assert_eq!(scratch.take::<u32>(), None, "taking empties it");
    }
}

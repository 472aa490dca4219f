//! The bounded event queues of the sessions: when one is full, a protocol error gives way
//! before anything else, so that a flood of rejected bytes in one call can never push out the
//! event a driver must see (a request, a delivered answer, a failure). Fuzz find: a dropped
//! `Sent`/`Request` left a session busy forever with no deadline.

use heapless::Deque;

/// Queues `ev`; returns whether an event was dropped to make room. When full, the event
/// dropped is a protocol error (`droppable`): the new one if it is one, else the oldest queued
/// one; only when no protocol error is queued does the oldest event give way.
pub(crate) fn push_keeping<T, const N: usize>(
    q: &mut Deque<T, N>,
    ev: T,
    droppable: fn(&T) -> bool,
) -> bool {
    if !q.is_full() {
        let _ = q.push_back(ev);
        return false;
    }
    if droppable(&ev) {
        return true;
    }
    // Rotate the queue once, leaving out its first droppable event: order is kept.
    let mut removed = false;
    for _ in 0..q.len() {
        if let Some(e) = q.pop_front() {
            if !removed && droppable(&e) {
                removed = true;
            } else {
                let _ = q.push_back(e);
            }
        }
    }
    if !removed {
        let _ = q.pop_front();
    }
    let _ = q.push_back(ev);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn odd(x: &u8) -> bool {
        x % 2 == 1
    }

    #[test]
    fn errors_give_way_first_and_order_is_kept() {
        let mut q: Deque<u8, 4> = Deque::new();
        for x in [2, 3, 4, 5] {
            assert!(!push_keeping(&mut q, x, odd));
        }
        // A new droppable one is dropped itself.
        assert!(push_keeping(&mut q, 7, odd));
        assert_eq!(
            q.iter().copied().collect::<std::vec::Vec<_>>(),
            [2, 3, 4, 5]
        );
        // A new important one pushes out the oldest droppable one.
        assert!(push_keeping(&mut q, 6, odd));
        assert_eq!(
            q.iter().copied().collect::<std::vec::Vec<_>>(),
            [2, 4, 5, 6]
        );
        assert!(push_keeping(&mut q, 8, odd));
        assert_eq!(
            q.iter().copied().collect::<std::vec::Vec<_>>(),
            [2, 4, 6, 8]
        );
        // Nothing droppable left: the oldest gives way.
        assert!(push_keeping(&mut q, 10, odd));
        assert_eq!(
            q.iter().copied().collect::<std::vec::Vec<_>>(),
            [4, 6, 8, 10]
        );
    }
}

package sqlite

// QueueLen returns how many appends wait for the writer, so tests can line
// appends up into one group deterministically.
func QueueLen(s *Store) int { return len(s.queue) }

// Groups returns how many groups the writer has committed.
func Groups(s *Store) int64 { return s.groups.Load() }

// Claimed returns how many appends the writer has taken off the queue.
func Claimed(s *Store) int64 { return s.claimed.Load() }

package postgres

import "context"

// DropGeneration lets the tests drive a rebuild's drop of a replaced
// generation against readers they hold in place.
func (s *Store) DropGeneration(ctx context.Context, schema string) error {
	return s.dropGeneration(ctx, schema)
}

package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/customer"
)

// CreateAdmin creates an admin account, or gives an existing account the
// admin role (created is then false). It opens only the event store and
// the write side, so it works beside a running server on the same store,
// and never bootstraps the configured first admin.
func (m *Main) CreateAdmin(ctx context.Context, email, password string) (created bool, err error) {
	m.cfg.AdminEmail, m.cfg.AdminPassword = "", "" // no start-up bootstrap here
	store, err := m.openEventStore(ctx)
	if err != nil {
		return false, err
	}
	defer store.Close()
	ws, err := m.openWriteSide(ctx, store)
	if err != nil {
		return false, err
	}
	defer ws.close()
	meta := commands.Metadata{CommandID: "admin-create-" + uuid.NewString(), Actor: "cli"}
	_, err = ws.api.Accounts.Register(ctx, email, password, "Administrator", customer.RoleAdmin, meta)
	switch {
	case errors.Is(err, commands.ErrEmailTaken):
		if err := ws.api.Accounts.GrantRole(ctx, email, customer.RoleAdmin, meta); err != nil {
			return false, fmt.Errorf("grant admin to %s: %w", email, err)
		}
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create admin %s: %w", email, err)
	}
	return true, nil
}

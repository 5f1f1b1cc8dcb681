package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/customer"
)

// adminCreate creates an admin account, or gives an existing account the
// admin role. The password comes from COMMERCE_ADMIN_PASSWORD or, when that
// is empty, from the first line of standard input, never from a flag (flags
// show in ps). It works beside a running server on the same store.
func adminCreate(ctx context.Context, cfg Config, email string, stdin io.Reader, log *slog.Logger, stdout io.Writer) error {
	password := string(cfg.AdminPassword)
	if password == "" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return fmt.Errorf("no password: set %s or pipe it on standard input", envAdminPassword)
	}
	cfg.AdminEmail, cfg.AdminPassword = "", "" // no start-up bootstrap here
	m := NewMain(cfg, WithLogger(log))
	store, err := m.openEventStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	ws, err := m.openWriteSide(ctx, store)
	if err != nil {
		return err
	}
	defer ws.close()
	meta := commands.Metadata{CommandID: "admin-create-" + uuid.NewString(), Actor: "cli"}
	_, err = ws.api.Accounts.Register(ctx, email, password, "Administrator", customer.RoleAdmin, meta)
	switch {
	case errors.Is(err, commands.ErrEmailTaken):
		if err := ws.api.Accounts.GrantRole(ctx, email, customer.RoleAdmin, meta); err != nil {
			return fmt.Errorf("grant admin to %s: %w", email, err)
		}
		fmt.Fprintf(stdout, "%s already had an account; it is now an admin\n", email)
		return nil
	case err != nil:
		return fmt.Errorf("create admin %s: %w", email, err)
	}
	fmt.Fprintf(stdout, "admin %s created\n", email)
	return nil
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
	created, err := NewMain(cfg, WithLogger(log)).CreateAdmin(ctx, email, password)
	switch {
	case err != nil:
		return err
	case !created:
		fmt.Fprintf(stdout, "%s already had an account; it is now an admin\n", email)
	default:
		fmt.Fprintf(stdout, "admin %s created\n", email)
	}
	return nil
}

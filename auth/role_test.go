package auth_test

import (
	"errors"
	"testing"

	"github.com/commerce-engine/commerce/auth"
)

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range auth.Roles() {
		got, err := auth.ParseRole(string(r))
		if err != nil || got != r || !r.Valid() {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	if len(auth.Roles()) != 3 {
		t.Fatalf("Roles() = %v", auth.Roles())
	}
	for _, s := range []string{"", "Admin", "ADMIN", " admin", "root", "shoppers"} {
		if got, err := auth.ParseRole(s); !errors.Is(err, auth.ErrUnknownRole) || got != "" {
			t.Errorf("ParseRole(%q) = %q, %v; want ErrUnknownRole", s, got, err)
		}
	}
	if auth.Role("").Valid() {
		t.Error("the zero Role is valid")
	}
}

package customer_test

import (
	"errors"
	"testing"

	"github.com/commerce-engine/commerce/domain/customer"
)

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range customer.Roles() {
		got, err := customer.ParseRole(string(r))
		if err != nil || got != r || !r.Valid() {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	if len(customer.Roles()) != 3 {
		t.Fatalf("Roles() = %v", customer.Roles())
	}
	for _, s := range []string{"", "Admin", "ADMIN", " admin", "root", "shoppers"} {
		if got, err := customer.ParseRole(s); !errors.Is(err, customer.ErrInvalidRole) || got != "" {
			t.Errorf("ParseRole(%q) = %q, %v; want ErrInvalidRole", s, got, err)
		}
	}
	if customer.Role("").Valid() {
		t.Error("the zero Role is valid")
	}
}

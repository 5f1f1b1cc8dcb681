package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/auth"
)

func TestSealerRoundTripAndRefusals(t *testing.T) {
	t.Parallel()
	s, err := auth.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("the-token")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "the-token") {
		t.Fatal("sealed value shows the token")
	}
	if got, err := s.Open(sealed); err != nil || got != "the-token" {
		t.Fatalf("open: %q %v", got, err)
	}
	again, _ := s.Seal("the-token")
	if again == sealed {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
	other, _ := auth.NewSealer([]byte(strings.Repeat("x", 32)))
	tampered := sealed[:len(sealed)-2] + "AA"
	for name, v := range map[string]string{"other key": sealed, "tampered": tampered, "not base64": "%%%", "short": "AA"} {
		o := s
		if name == "other key" {
			o = other
		}
		if _, err := o.Open(v); !errors.Is(err, auth.ErrUnsealable) {
			t.Errorf("%s: %v, want ErrUnsealable", name, err)
		}
	}
	if _, err := auth.NewSealer(nil); err == nil {
		t.Error("a sealer without a secret")
	}
}

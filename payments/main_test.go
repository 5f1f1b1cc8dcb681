package payments_test

import (
	"testing"

	"github.com/commerce-engine/commerce/internal/testsvc"
)

// mustStripeMock returns the base URL of a stripe-mock of this test's own.
func mustStripeMock(tb testing.TB) string {
	tb.Helper()
	return testsvc.StripeMock(tb)
}

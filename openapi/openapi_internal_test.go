package openapi

import (
	"slices"
	"strings"
	"testing"
)

func TestParseOperations(t *testing.T) {
	t.Parallel()
	const doc = `{
		"security": [{"bearerAuth": []}],
		"paths": {
			"/b/{id}": {
				"parameters": [],
				"post": {"operationId": "postB", "x-roles": ["admin"]},
				"get": {"operationId": "getB", "x-roles": ["shopper", "admin"]}
			},
			"/a": {
				"get": {"operationId": "getA", "x-roles": ["anonymous"], "security": []},
				"post": {"operationId": "hook", "x-roles": ["anonymous"], "security": [{"stripeSignature": []}]},
				"put": {"operationId": "either", "x-roles": ["admin"], "security": [{"bearerAuth": []}, {}]}
			}
		}
	}`
	ops, err := parseOperations([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []Operation{
		{Method: "GET", Path: "/a", OperationID: "getA", Roles: []string{"anonymous"}, Public: true},
		{Method: "PUT", Path: "/a", OperationID: "either", Roles: []string{"admin"}, Public: true},
		{Method: "POST", Path: "/a", OperationID: "hook", Roles: []string{"anonymous"}, Public: true},
		{Method: "GET", Path: "/b/{id}", OperationID: "getB", Roles: []string{"shopper", "admin"}},
		{Method: "POST", Path: "/b/{id}", OperationID: "postB", Roles: []string{"admin"}},
	}
	if !slices.EqualFunc(ops, want, func(a, b Operation) bool {
		return a.Method == b.Method && a.Path == b.Path && a.OperationID == b.OperationID &&
			slices.Equal(a.Roles, b.Roles) && a.Public == b.Public
	}) {
		t.Errorf("parseOperations =\n%+v\nwant\n%+v", ops, want)
	}
}

func TestParseOperationsErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ doc, want string }{
		"not JSON":       {`{`, "parse document"},
		"no operationId": {`{"paths": {"/a": {"get": {"x-roles": ["admin"]}}}}`, "GET /a has no operationId"},
		"no x-roles":     {`{"paths": {"/a": {"post": {"operationId": "a"}}}}`, "POST /a has no x-roles"},
		"bad operation":  {`{"paths": {"/a": {"get": {"operationId": 1}}}}`, "parse GET /a"},
	} {
		_, err := parseOperations([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, tc.want)
		}
	}
}

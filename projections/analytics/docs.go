package analytics

import (
	"bytes"
	"strings"
)

// DocumentedQueries returns the body of every ```sql fenced block of a
// Markdown document, in order, so tests can prove that the queries the
// analyst documentation shows really run (as any role, on any schema).
func DocumentedQueries(markdown []byte) []string {
	var out []string
	var cur *strings.Builder
	for line := range bytes.Lines(markdown) {
		trimmed := strings.TrimSpace(string(line))
		if cur == nil {
			if strings.HasPrefix(trimmed, "```") && strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), "sql") {
				cur = &strings.Builder{}
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			if q := strings.TrimSpace(cur.String()); q != "" {
				out = append(out, q)
			}
			cur = nil
			continue
		}
		cur.Write(line)
	}
	return out
}

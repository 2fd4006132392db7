// Package shorten cuts messages to the length the place they are shown takes (a condition
// message, a forge's commit status).
package shorten

import "unicode/utf8"

// To returns s cut to at most n bytes, ending in "..." when cut, and never in the middle of a
// UTF-8 character.
func To(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < 3 {
		return "..."[:max(n, 0)]
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

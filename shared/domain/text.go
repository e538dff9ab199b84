package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// RuneLen counts characters, not bytes, so that a 30-character name in a
// multi-byte script is 30 long.
func RuneLen(s string) int { return utf8.RuneCountInString(s) }

// Every text is bounded in characters, as people count, and in bytes, as
// items and messages are measured. Long texts take three bytes a
// character, so that any script of the Basic Multilingual Plane fits its
// full length and emoji (four bytes) a little less; short ones (names,
// titles) any character at its full length.
const (
	MaxChatBytes         = 3 * MaxChatLen
	MaxQuestionBytes     = 3 * MaxQuestionLen
	MaxNameBytes         = 4 * MaxNameLen
	MaxTitleBytes        = 4 * MaxTitleLen
	MaxBreakoutNameBytes = 4 * MaxBreakoutNameLen
)

// TextFits reports whether s is valid UTF-8 of at most chars characters
// and maxBytes bytes.
func TextFits(s string, chars, maxBytes int) bool {
	return len(s) <= maxBytes && utf8.ValidString(s) && RuneLen(s) <= chars
}

// Printable reports whether s holds no control characters, which no name
// or title needs (and which JSON would send six bytes long).
func Printable(s string) bool {
	return !strings.ContainsFunc(s, unicode.IsControl)
}

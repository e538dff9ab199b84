package domain

import "unicode/utf8"

// RuneLen counts characters, not bytes, so that a 30-character name in a
// multi-byte script is 30 long.
func RuneLen(s string) int { return utf8.RuneCountInString(s) }

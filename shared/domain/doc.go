// Package domain holds Greenroom's rules as pure types and functions:
// events and their slot grid, sessions of the three kinds, registrations
// and stage limits. It does no I/O and imports no SDK, so the rules of the
// product pages are tested here in microseconds.
package domain

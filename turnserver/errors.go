package turnserver

import "errors"

var (
	// ErrNoSecret is returned by New when Config.Secret is empty: the
	// server only admits REST-scheme credentials minted with that secret.
	ErrNoSecret = errors.New("turnserver: a shared secret is required")

	// ErrRelayIP is returned by New when no relay IP is given and none can
	// be taken from the listen or relay bind addresses, or when the relay
	// IP is not a specific IPv4 address (pion/turn relays over udp4 only).
	ErrRelayIP = errors.New("turnserver: the relay IP must be a specific IPv4 address")

	// ErrTLSNoCertificate is returned by New when TLS addresses are given
	// without a certificate.
	ErrTLSNoCertificate = errors.New("turnserver: TLS addresses need a certificate")

	// ErrRelayPortRange is returned by New when only one end of the relay
	// port range is set or when the minimum exceeds the maximum.
	ErrRelayPortRange = errors.New("turnserver: invalid relay port range")

	// ErrCredentialMalformed is returned by CheckUsername when a username
	// is not of the form "expiry:userId" with a decimal Unix expiry and a
	// non-empty user id.
	ErrCredentialMalformed = errors.New("turnserver: malformed credential username")

	// ErrCredentialExpired is returned by CheckUsername when a username's
	// expiry has passed.
	ErrCredentialExpired = errors.New("turnserver: credential expired")

	// ErrCredentialTooLong is returned by CheckUsername when a username's
	// expiry lies further in the future than the maximum lifetime.
	ErrCredentialTooLong = errors.New("turnserver: credential lifetime exceeds the maximum")
)

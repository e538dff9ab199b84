package turncred_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v4"

	"github.com/greenroom-live/greenroom/shared/turncred"
)

// TestMintMatchesPion checks the credentials against pion/turn's own REST
// helper, which mints by the wall clock: same username form, same password.
func TestMintMatchesPion(t *testing.T) {
	const secret = "a-shared-secret"
	pionUser, pionPass, err := turn.GenerateLongTermTURNRESTCredentials(secret, "u1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stamp, _, _ := strings.Cut(pionUser, ":")
	secs, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	user, pass := turncred.Mint(secret, "u1", time.Unix(secs, 0))
	if user != pionUser || pass != pionPass {
		t.Fatalf("Mint = %q, %q; pion mints %q, %q", user, pass, pionUser, pionPass)
	}
}

func TestMintUsesTheGivenExpiry(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2035, 6, 1, 12, 0, 0, 0, time.UTC),
	} {
		user, _ := turncred.Mint("s", "ada", at)
		if want := strconv.FormatInt(at.Unix(), 10) + ":ada"; user != want {
			t.Errorf("Mint(%v) username = %q, want %q", at, user, want)
		}
	}
}

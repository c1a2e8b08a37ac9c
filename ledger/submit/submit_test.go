package submit_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/ledger/submit"
)

// A server that is down (a closed loopback port) is tried NetAttempts
// times, each failed try reported to OnRetry before its pause, then
// reported as *UnreachableError naming the URL and the cause.
func TestUnreachableIsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	c, err := submit.New(base)
	if err != nil {
		t.Fatal(err)
	}
	c.NetAttempts, c.Backoff = 3, time.Millisecond
	var tries []int
	c.OnRetry = func(attempt, of int, pause time.Duration, cause error) {
		if of != 3 || cause == nil {
			t.Errorf("OnRetry(%d, %d, %v, %v)", attempt, of, pause, cause)
		}
		tries = append(tries, attempt)
	}
	_, err = c.Add(context.Background(), []byte(`{}`), true)
	var ue *submit.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("want *UnreachableError, got %T %v", err, err)
	}
	if ue.URL != base+"/add" || ue.Attempts != 3 || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), base) {
		t.Fatalf("error: %v (%+v)", err, ue)
	}
	if len(tries) != 2 || tries[0] != 1 || tries[1] != 2 {
		t.Fatalf("OnRetry calls %v, want [1 2] (no pause after the last try)", tries)
	}
}

func TestBadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://"} {
		if _, err := submit.New(u); err == nil || !strings.Contains(err.Error(), "want http(s)://host[:port]") {
			t.Errorf("New(%q): %v", u, err)
		}
	}
}

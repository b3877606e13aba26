package httpapi

import (
	"strconv"
	"testing"
)

func TestRateLimiter_MemoryStaysBoundedWhenEveryBucketIsBusy(t *testing.T) {
	l := NewRateLimiter(1, 1) // a bucket spent once stays busy for a minute
	for i := range maxBuckets + 1000 {
		if ok, _ := l.Allow("s" + strconv.Itoa(i)); !ok {
			t.Fatalf("subject %d refused on its first request", i)
		}
	}
	if n := len(l.buckets); n > maxBuckets {
		t.Fatalf("%d buckets, bound %d", n, maxBuckets)
	}
}

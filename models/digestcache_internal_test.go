package models

import (
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// testDigestCache returns a cache of at most max bytes trusted for a
// minute, on a clock the test moves.
func testDigestCache(max int) (*digestCache[Record], *time.Time) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	c := newDigestCache(time.Minute, max, recordSize)
	c.now = func() time.Time { return now }
	return c, &now
}

func digestOf(seq int64, texts ...string) digest[Record] {
	d := digest[Record]{Seq: seq}
	for _, s := range texts {
		d.Items = append(d.Items, Record{Text: s})
	}
	return d
}

// TestDigestCache_Trust: an entry serves for the TTL after its store read,
// longer while complete reads of the change feed keep covering it, and
// never after a user change for its user, an incomplete feed read, or a
// drop that its store read raced.
func TestDigestCache_Trust(t *testing.T) {
	u, other := bson.NewObjectID(), bson.NewObjectID()
	tests := []struct {
		name  string
		after func(c *digestCache[Record], now *time.Time)
		serve bool
	}{
		{"fresh", func(*digestCache[Record], *time.Time) {}, true},
		{"past the TTL", func(_ *digestCache[Record], now *time.Time) { *now = now.Add(time.Minute) }, false},
		{"past the TTL, covered by a feed read", func(c *digestCache[Record], now *time.Time) {
			*now = now.Add(50 * time.Second)
			c.applyFeed([]Change{{UserID: other}, {SessionID: "s"}}, true, *now)
			*now = now.Add(50 * time.Second)
		}, true},
		{"user changed", func(c *digestCache[Record], now *time.Time) {
			c.applyFeed([]Change{{UserID: u}}, true, *now)
		}, false},
		{"feed read incomplete", func(c *digestCache[Record], now *time.Time) { c.applyFeed(nil, false, *now) }, false},
		{"dropped", func(c *digestCache[Record], _ *time.Time) { c.drop(u) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, now := testDigestCache(1 << 20)
			c.put(c.ticket(), u, digestOf(1, "a"))
			tc.after(c, now)
			if _, ok := c.get(u); ok != tc.serve {
				t.Errorf("served = %v, want %v", ok, tc.serve)
			}
		})
	}
}

// TestDigestCache_Put: a store read that raced a drop puts nothing, and
// an older digest never replaces a newer one.
func TestDigestCache_Put(t *testing.T) {
	c, _ := testDigestCache(1 << 20)
	u := bson.NewObjectID()
	before := c.ticket()
	c.drop(bson.NewObjectID())
	c.put(before, u, digestOf(1, "a"))
	if _, ok := c.get(u); ok {
		t.Errorf("a digest read before a drop was cached")
	}
	c.put(c.ticket(), u, digestOf(2, "b", "a"))
	c.put(c.ticket(), u, digestOf(1, "a"))
	if d, _ := c.get(u); d.Seq != 2 {
		t.Errorf("cached seq %d, want the newer 2", d.Seq)
	}
}

// TestDigestCache_Bound: the cache never holds more than its cap, and a
// digest handed out is a copy.
func TestDigestCache_Bound(t *testing.T) {
	const max = 20_000
	c, _ := testDigestCache(max)
	text := strings.Repeat("x", 100)
	for range 500 {
		c.put(c.ticket(), bson.NewObjectID(), digestOf(3, text, text, text))
		if c.bytes > max {
			t.Fatalf("cache holds %d bytes, cap %d", c.bytes, max)
		}
	}
	if len(c.entries) == 0 {
		t.Fatal("cache empty")
	}
	u := bson.NewObjectID()
	c.put(c.ticket(), u, digestOf(1, "a"))
	d, _ := c.get(u)
	d.Items[0].Text = "changed"
	if again, _ := c.get(u); again.Items[0].Text != "a" {
		t.Errorf("changing a digest handed out changed the cache: %q", again.Items[0].Text)
	}
}

package models

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/event"
)

// CommandKind classifies a driver command by its name: "read" for
// commands that read documents, "write" for those that change them, and
// "other" for the rest (handshakes, pings, index and cursor bookkeeping).
func CommandKind(name string) string {
	switch name {
	case "find", "aggregate", "count", "distinct", "getMore":
		return "read"
	case "insert", "update", "delete", "findAndModify":
		return "write"
	}
	return "other"
}

// CommandCounter counts the commands a [Store] sends to the server, by
// command name: what the store really does, whatever method asked for
// it. Give its [CommandCounter.Monitor] to [Options.Monitor]. The zero
// value is ready to use, and it is safe for concurrent use.
type CommandCounter struct {
	counts sync.Map // command name -> *atomic.Int64
}

// Monitor returns a driver command monitor that counts every command
// started.
func (c *CommandCounter) Monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		n, ok := c.counts.Load(e.CommandName)
		if !ok {
			n, _ = c.counts.LoadOrStore(e.CommandName, new(atomic.Int64))
		}
		n.(*atomic.Int64).Add(1)
	}}
}

// Counts returns how many commands of each name were started so far.
func (c *CommandCounter) Counts() map[string]int64 {
	out := map[string]int64{}
	c.counts.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return maps.Clone(out)
}

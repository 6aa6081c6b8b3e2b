package models

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

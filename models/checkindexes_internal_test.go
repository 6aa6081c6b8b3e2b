package models

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestMayCreateIndexes reads the privileges a MongoDB server reports for
// its roles (connectionStatus with showPrivileges), as the server writes
// them.
func TestMayCreateIndexes(t *testing.T) {
	colls := []string{"users", "sessions", "records"}
	tests := []struct {
		name   string
		status string // extended JSON of the command's answer
		want   bool
	}{
		{"no access control (the embedded store)", `{"authInfo": {"authenticatedUsers": [], "authenticatedUserRoles": []}}`, true},
		{"readWrite on the database", `{"authInfo": {"authenticatedUsers": [{"user": "app", "db": "admin"}],
			"authenticatedUserPrivileges": [{"resource": {"db": "app", "collection": ""}, "actions": ["find", "insert", "createIndex"]}]}}`, true},
		{"readWriteAnyDatabase", `{"authInfo": {"authenticatedUsers": [{"user": "app", "db": "admin"}],
			"authenticatedUserPrivileges": [{"resource": {"db": "", "collection": ""}, "actions": ["createIndex"]}]}}`, true},
		{"root (any resource)", `{"authInfo": {"authenticatedUsers": [{"user": "root", "db": "admin"}],
			"authenticatedUserPrivileges": [{"resource": {"anyResource": true}, "actions": ["createIndex"]}]}}`, true},
		{"read only", `{"authInfo": {"authenticatedUsers": [{"user": "app", "db": "admin"}],
			"authenticatedUserPrivileges": [{"resource": {"db": "app", "collection": ""}, "actions": ["find", "listIndexes"]}]}}`, false},
		{"createIndex on another database", `{"authInfo": {"authenticatedUsers": [{"user": "app", "db": "admin"}],
			"authenticatedUserPrivileges": [{"resource": {"db": "other", "collection": ""}, "actions": ["createIndex"]}]}}`, false},
		{"createIndex on some collections only", `{"authInfo": {"authenticatedUsers": [{"user": "app", "db": "admin"}],
			"authenticatedUserPrivileges": [{"resource": {"db": "app", "collection": "users"}, "actions": ["createIndex"]},
			{"resource": {"db": "app", "collection": "sessions"}, "actions": ["createIndex"]}]}}`, false},
		{"cluster privileges only", `{"authInfo": {"authenticatedUsers": [{"user": "ops", "db": "admin"}],
			"authenticatedUserPrivileges": [{"resource": {"cluster": true}, "actions": ["createIndex"]}]}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var st connectionStatus
			if err := bson.UnmarshalExtJSON([]byte(tc.status), false, &st); err != nil {
				t.Fatal(err)
			}
			if got := st.mayCreateIndexes("app", colls); got != tc.want {
				t.Errorf("mayCreateIndexes = %v, want %v", got, tc.want)
			}
		})
	}
}

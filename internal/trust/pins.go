package trust

import (
	"encoding/json"
	"time"
)

// Pin is the approved definition of one tool.
type Pin struct {
	// Hash is "sha256:" and the hex SHA-256 of the tool's canonical
	// definition (see ToolHash).
	Hash        string          `json:"hash"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
	ApprovedAt  time.Time       `json:"approved_at"`
}

package app

import (
	"fmt"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
)

// APIKeyEnv names the environment variable whose value, when set, is the
// API key in force (Options.APIKey): how a deployment whose config file is
// read-only (a Kubernetes ConfigMap) takes its key from a secret store.
const APIKeyEnv = "MCPPROXY_API_KEY"

// envAPIKey makes Options.APIKey the key in force for cfg. The key is
// checked like api_key, and never written anywhere.
func (a *App) envAPIKey(cfg *config.Config) error {
	key := a.opts.APIKey
	if len(key) < config.MinAPIKeyLen {
		return fmt.Errorf("%s must be at least %d characters", APIKeyEnv, config.MinAPIKeyLen)
	}
	if cfg.APIKey != "" && cfg.APIKey != key {
		a.log.Info("api_key in the config file is ignored: " + APIKeyEnv + " is set")
	}
	a.loaded = cfg
	a.apiKey.Store(&key)
	a.auth = &httpapi.Auth{
		Key:   func() string { return *a.apiKey.Load() },
		Where: "the " + APIKeyEnv + " environment variable",
	}
	return nil
}

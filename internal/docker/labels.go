package docker

// Labels on every container mcpproxy starts. Together they say "this is
// mcpproxy's, started by that instance, for that server"; the reaper and the
// shutdown sweep act only on containers carrying them.
const (
	// LabelManaged is "true" on every mcpproxy container.
	LabelManaged = "com.mcpproxy.managed"
	// LabelInstance is the ID of the mcpproxy Instance that started it.
	LabelInstance = "com.mcpproxy.instance"
	// LabelServer is the configured server name, verbatim.
	LabelServer = "com.mcpproxy.server"
)

// Labels returns the labels of a container that instance starts for server.
func Labels(instance, server string) map[string]string {
	return map[string]string{
		LabelManaged:  "true",
		LabelInstance: instance,
		LabelServer:   server,
	}
}

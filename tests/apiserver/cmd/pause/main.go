// Command pause is the Pod sandbox process of the test node (scripts/node.sh):
// the equivalent of registry.k8s.io/pause, which cannot be pulled here. It
// holds the Pod's namespaces, reaps orphans (it is PID 1 when the Pod shares
// its PID namespace) and exits 0 on SIGINT or SIGTERM. scripts/node.sh puts it
// alone into a FROM-scratch OCI image that it imports into the node's
// containerd.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		os.Stdout.WriteString("pause (docspace-compliance-operator test node)\n")
		return
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Reap every exited child without blocking.
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

// Command kube-scheduler is the upstream scheduler, built from the
// k8s.io/kubernetes module pinned in ../../go.mod. It is the same main as
// upstream's cmd/kube-scheduler/scheduler.go. scripts/node.sh builds and runs
// it (not scripts/apiserver.sh).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register" // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version" // for version metric registration
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	command := app.NewSchedulerCommand()
	code := cli.Run(command)
	os.Exit(code)
}

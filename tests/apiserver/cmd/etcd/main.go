// Command etcd runs a single-member embedded etcd (go.etcd.io/etcd/server/v3/embed)
// for the test API server: plain HTTP on loopback, data in --data-dir. It stops
// cleanly on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "", "directory for etcd's data (required)")
	clientURL := flag.String("listen-client-url", "http://127.0.0.1:2379", "client URL (loopback)")
	peerURL := flag.String("listen-peer-url", "http://127.0.0.1:2380", "peer URL (loopback, single member)")
	name := flag.String("name", "docspace-test", "member name")
	logLevel := flag.String("log-level", "warn", "debug, info, warn, error")
	noFsync := flag.Bool("unsafe-no-fsync", false, "disable fsync (disposable test data only)")
	startTimeout := flag.Duration("start-timeout", 60*time.Second, "how long to wait for the member to be ready")
	flag.Parse()

	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "etcd: --data-dir is required")
		os.Exit(2)
	}
	if err := run(*dataDir, *clientURL, *peerURL, *name, *logLevel, *noFsync, *startTimeout); err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}
}

func run(dataDir, clientURL, peerURL, name, logLevel string, noFsync bool, startTimeout time.Duration) error {
	cu, err := url.Parse(clientURL)
	if err != nil {
		return fmt.Errorf("--listen-client-url: %w", err)
	}
	pu, err := url.Parse(peerURL)
	if err != nil {
		return fmt.Errorf("--listen-peer-url: %w", err)
	}

	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(name)
	cfg.LogLevel = logLevel
	cfg.Logger = "zap"
	cfg.LogOutputs = []string{"stderr"}
	cfg.UnsafeNoFsync = noFsync
	// Only requests slower than this are logged (a zero value logs every request).
	cfg.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()

	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintf(os.Stderr, "etcd: ready, serving clients on %s\n", clientURL)
	case <-time.After(startTimeout):
		e.Server.Stop()
		return fmt.Errorf("not ready after %s", startTimeout)
	case <-ctx.Done():
		return nil
	}

	select {
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "etcd: signal received, shutting down")
		return nil // deferred e.Close() stops the server and waits for it
	case err := <-e.Err():
		return err
	}
}

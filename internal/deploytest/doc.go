// Package deploytest checks the deployment files (docker-compose.yml,
// deploy/Dockerfile, deploy/k8s) against the binaries they run: every
// command names a binary the image builds, every flag is one that binary
// takes, every IA_* variable is one the code reads and the README
// documents, and every probe reaches the port its process listens on.
// No Docker engine or cluster is needed, so it runs in every test run.
package deploytest

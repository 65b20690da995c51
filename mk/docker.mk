# mk/docker.mk - container image, Kubernetes manifests and the scale-out
# failure test (docker/README.md). Included by the Makefile.
#
#   make docker-test    build docker/Dockerfile with podman (no Docker engine),
#                       run the image, check it answers as the CLI does
#   make check-k8s      offline schema check of docker/k8s/ (and its self-test;
#                       npm); make lint runs it
#   make failover-test  two daemons behind nginx, one SIGKILLed under load

# podman + buildah build and run the image (runc: Debian 12's crun refuses
# hybrid cgroup hosts), podman-compose runs docker/compose.yaml, debootstrap
# makes the base image when no registry can be reached. nginx, the load
# balancer of the failover test, is part of make test's deps.
DOCKER_DEPS := podman buildah runc podman-compose debootstrap
DEPS_APT += nginx

.PHONY: docker-test check-k8s failover-test

docker-test: deps all
	@tools/apt_install.sh docker-test $(DOCKER_DEPS)
	@tools/docker_test.sh $(BUILD)

check-k8s: deps
	@tools/check_k8s.sh

failover-test: deps all
	@tools/failover_test.sh $(BUILD)

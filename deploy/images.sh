#!/usr/bin/env bash
# images.sh builds the container image of every binary in deploy/images.txt
# with deploy/Dockerfile (`make images`). It needs a container engine
# (docker with buildx, or podman); where none runs (as on the development
# machines) it says so and builds the same static binaries with the flags
# the Dockerfile uses into .bin/images/, printing their SHA-256 so that two
# builds of one commit can be compared (they must be equal: reproducible).
#
#   REGISTRY   image name prefix (default registry.gov.ps/tamkeen)
#   VERSION    image tag (default: git describe, else dev)
#   PUSH=1     push after building
set -euo pipefail
cd "$(dirname "$0")/.."

REGISTRY=${REGISTRY:-registry.gov.ps/tamkeen}
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export SOURCE_DATE_EPOCH

mapfile -t images < <(grep -v '^#' deploy/images.txt | awk 'NF {print $1" "$2}')

engine=""
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	engine=docker
elif command -v podman >/dev/null && podman info >/dev/null 2>&1; then
	engine=podman
fi

if [ -z "$engine" ]; then
	echo "images: no container engine runs on this machine (docker info and podman info fail)."
	echo "images: building the static binaries the images would hold, with the Dockerfile's flags, into .bin/images/"
	mkdir -p .bin/images
	for entry in "${images[@]}"; do
		read -r name pkg <<<"$entry"
		CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags timetzdata \
			-ldflags="-s -w -buildid= -X main.revision=$COMMIT -X main.version=$VERSION" \
			-o ".bin/images/$name" "$pkg"
	done
	(cd .bin/images && sha256sum "${images[@]%% *}")
	echo "images: version $VERSION, commit $COMMIT, SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH; no image was built"
	exit 0
fi

for entry in "${images[@]}"; do
	read -r name pkg <<<"$entry"
	ref="$REGISTRY/$name:$VERSION"
	echo "images: building $ref ($pkg) with $engine"
	args=(-f deploy/Dockerfile
		--build-arg "NAME=$name" --build-arg "PKG=$pkg"
		--build-arg "VERSION=$VERSION" --build-arg "COMMIT=$COMMIT"
		--build-arg "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH")
	if [ "$engine" = docker ]; then
		docker buildx build "${args[@]}" --provenance=false \
			--output "type=image,name=$ref,rewrite-timestamp=true${PUSH:+,push=true}" .
	else
		podman build "${args[@]}" --timestamp "$SOURCE_DATE_EPOCH" -t "$ref" .
		if [ -n "${PUSH:-}" ]; then podman push "$ref"; fi
	fi
done

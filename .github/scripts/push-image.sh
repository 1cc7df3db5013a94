#!/usr/bin/env bash
# push-image.sh REPOSITORY_URI TAG ARCHIVE DIGEST
#
# Pushes the API image built once by the deliver workflow (an OCI archive)
# to one environment's ECR repository under an immutable tag, keeping its
# digest, so dev and prod run the very same bytes. Tags are immutable: a
# re-run finds the tag and passes only if it holds this digest.
set -euo pipefail

if (($# != 4)); then
	echo "usage: $0 REPOSITORY_URI TAG ARCHIVE DIGEST" >&2
	exit 2
fi
repo_uri=$1 tag=$2 archive=$3 digest=$4
registry=${repo_uri%%/*}
name=${repo_uri#*/}

existing=$(aws ecr batch-get-image --repository-name "$name" --image-ids "imageTag=$tag" \
	--query 'images[0].imageId.imageDigest' --output text)
if [[ "$existing" == "$digest" ]]; then
	echo "$name:$tag already holds $digest"
	exit 0
fi
if [[ -n "$existing" && "$existing" != "None" ]]; then
	echo "::error::$name:$tag holds $existing, not the image built for this commit ($digest); tags are immutable"
	exit 1
fi

command -v skopeo >/dev/null || { sudo apt-get update -qq && sudo apt-get install -y -qq skopeo; }
aws ecr get-login-password | skopeo login --username AWS --password-stdin "$registry"
pushed=$(mktemp)
skopeo copy --preserve-digests --digestfile "$pushed" "oci-archive:$archive" "docker://$repo_uri:$tag"
if [[ "$(cat "$pushed")" != "$digest" ]]; then
	echo "::error::pushed $(cat "$pushed") to $name:$tag, expected $digest"
	exit 1
fi
echo "pushed $digest to $name:$tag"

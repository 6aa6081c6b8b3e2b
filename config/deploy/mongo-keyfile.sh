#!/bin/sh
# One-shot (service mongo-keyfile): makes the replica set's internal
# authentication key in the mongo-keyfile volume at first start and leaves
# it alone afterwards. The key never exists outside that volume.
set -eu
f=/keys/keyfile
if [ ! -s "$f" ]; then
	umask 077
	# 756 random bytes are 1008 base64 characters (mongod allows 6 to 1024).
	head -c 756 /dev/urandom | base64 | tr -d '\n' >"$f.tmp"
	mv "$f.tmp" "$f"
	echo "mongo-keyfile: generated a new replica set key"
fi
# mongod runs as the image's mongodb user (999) and wants the key private.
chown 999:999 "$f"
chmod 400 "$f"

#!/bin/bash
. "$(dirname "$0")/lib.sh"
need_qcow2
done_ok

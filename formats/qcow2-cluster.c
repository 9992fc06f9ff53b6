/* qcow2-cluster: to be written (issue 2). */
#include "formats/qcow2.h"

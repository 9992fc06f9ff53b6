/* convert: to be written (issue 2). */
#include "formats/convert.h"

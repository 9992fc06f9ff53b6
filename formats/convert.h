/* The copy/convert engine: to be written (issue 2). */
#pragma once
#include "formats/image.h"

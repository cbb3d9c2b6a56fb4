/* config.h - lwIP's test/unit/lwip_check.h includes <config.h> (an autoconf leftover); nothing to
 * configure here: the options are in lwipopts.h beside this file. */

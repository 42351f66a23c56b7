/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/* Defines the maps every conntrail program shares (the others see them as extern). */
#define CT_DEFINE_MAPS
#include "common.bpf.h"

const volatile __u32 ct_features = 0;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

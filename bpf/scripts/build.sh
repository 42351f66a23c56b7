#!/usr/bin/env bash
# placeholder until the capture work lands
exit 0

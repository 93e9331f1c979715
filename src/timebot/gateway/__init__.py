"""Glue between storage and the Bitrix24 wire layer: token refresh with row locks, portal auth."""

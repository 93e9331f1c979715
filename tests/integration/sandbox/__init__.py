"""Integration tests of the Bitrix24 sandbox portal over real HTTP."""

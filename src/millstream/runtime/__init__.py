"""Running one task try: context, templates, timeout, XCom and callbacks."""

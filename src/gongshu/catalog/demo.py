def build(ctx):
    return None

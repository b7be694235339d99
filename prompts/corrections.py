"""Follow-up messages sent to a model whose previous reply could not be used (see graph/models.py).

A malformed structured reply is shown back to the model with the parse error, which changes the
prompt so that a retry at temperature 0 is not a replay.
"""

STRUCTURED_CORRECTION = (
    "Your previous reply could not be used: {error}\n"
    "Reply again with only one JSON object that matches this JSON schema, with no other text:\n"
    "{schema}"
)

TEXT_CORRECTION = "Your previous reply was empty. Please answer the last message."

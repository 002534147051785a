"""The forecast's only writers, one module per concern; every write appends its ``forecast.*``
event in the same transaction.

- ``scoring``: train, version and activate win models; score open deals with drivers
- ``annotations``: reps' context notes and overrides
- ``revenue``: period distributions (P10/P50/P90) per scope; ``revenue_moved``: "what moved
  it" and recording the periods (with ``forecast.period_changed``)
- ``renewal``: renewal risk of subscriptions
- ``guardrail``: AI insights as suggestions, reps' written verification, forecast submissions
- ``refresh``: the periodic job that runs the above in order
"""

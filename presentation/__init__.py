"""How answers read to a person: the answer languages, lists of names, numbers, periods and time buckets.

It sits below agent/, tools/ and api/ (it imports none of them) so that every surface that shows an
answer, from the planner's texts to the terminal, the bots and the exports, writes it one way.
"""

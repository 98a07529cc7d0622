"""User interfaces: the customer chat page (/ui), the operator console (/console) and the embeddable widget."""
